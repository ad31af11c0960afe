"""One function from a name to a `tf.distribute` strategy; call it first, build under `strategy.scope()`.

    strategy = get_strategy(args.strategy)
    global_batch = args.batch_size * strategy.num_replicas_in_sync   # batch size is per replica

Scaling past one machine is `multi_worker` (MultiWorkerMirroredStrategy): start the same command on
every machine with a `TF_CONFIG` naming all workers and this one's index.
"""
import os
import sys

from tfbert.keras import tf
from tfbert.devices import TPU_DEVICE_FILES, has_tpu, tpu_install_command

STRATEGIES = ("auto", "cpu", "mirrored", "tpu", "multi_worker")


class StrategyError(RuntimeError):
    """The strategy asked for cannot be set up here; the message is one line saying what to do."""


def _tpu_resolver():
    """A TPU cluster resolver if this machine has a TPU, else None (never waits)."""
    if os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"):  # a TPU node (older Colab)
        return lambda: tf.distribute.cluster_resolver.TPUClusterResolver()
    if has_tpu(TPU_DEVICE_FILES):  # a TPU VM (the module's name, so that tests can point it elsewhere)
        return lambda: tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    return None


def _tpu_strategy(resolver):
    """TPUStrategy on the TPU `resolver()` finds; StrategyError if this TensorFlow cannot drive it."""
    try:
        resolver = resolver()
        if resolver.master() and resolver.master() != "local":
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (tf.errors.OpError, ValueError, RuntimeError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise StrategyError(f"this machine has a TPU, but TensorFlow {tf.__version__} cannot use it ({reason}); "
                            f"install TensorFlow's TPU build: {tpu_install_command()}") from e


def get_strategy(name: str = "auto", devices=None) -> tf.distribute.Strategy:
    """The strategy called `name`.

    Args:
        name: one of STRATEGIES.
            auto: a TPU if there is one (if this TensorFlow cannot use it: a warning, then as if there were
                none), else every GPU (mirrored) if there are any, else the default.
            cpu: the CPU only, even when there are GPUs.
            mirrored: MirroredStrategy over `devices` (default: every GPU, else the CPU).
            tpu: TPUStrategy; StrategyError if there is no TPU or this TensorFlow has no TPU support.
            multi_worker: MultiWorkerMirroredStrategy, configured by the TF_CONFIG variable.
        devices: for `mirrored` only, e.g. ["/cpu:0", "/cpu:1"].
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if devices is not None and name != "mirrored":
        raise ValueError(f"devices are for the mirrored strategy, not {name!r}")
    if name == "auto":
        resolver = _tpu_resolver()
        if resolver is not None:
            try:
                return _tpu_strategy(resolver)
            except StrategyError as e:
                print(f"warning: {e}. Going on without the TPU.", file=sys.stderr)
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "cpu":  # not OneDeviceStrategy: BackupAndRestore does not support it
        tf.config.set_visible_devices([], "GPU")
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if name == "tpu":
        resolver = _tpu_resolver()
        if resolver is None:
            raise StrategyError("--strategy tpu: no TPU found (no TPU_NAME, COLAB_TPU_ADDR or /dev/accel*)")
        return _tpu_strategy(resolver)
    if "TF_CONFIG" not in os.environ:
        raise StrategyError("--strategy multi_worker needs TF_CONFIG (the cluster and this worker's index)")
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files (always true on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
