"""One function from a name to a `tf.distribute` strategy; call it first, build under `strategy.scope()`.

    strategy = get_strategy(args.strategy)
    global_batch = args.batch_size * strategy.num_replicas_in_sync   # batch size is per replica

Scaling past one machine is `multi_worker` (MultiWorkerMirroredStrategy): start the same command on
every machine with a `TF_CONFIG` naming all workers and this one's index.
"""
import glob
import os

from tfbert.keras import tf

STRATEGIES = ("auto", "cpu", "mirrored", "tpu", "multi_worker")


def _tpu_resolver():
    """A TPU cluster resolver if this machine has a TPU, else None (never waits)."""
    if os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"):  # a TPU node (older Colab)
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    if glob.glob("/dev/accel*") or os.path.exists("/dev/vfio/0"):  # a TPU VM (Colab today)
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    return None


def _tpu_strategy(resolver):
    if resolver.master() and resolver.master() != "local":
        tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def get_strategy(name: str = "auto", devices=None) -> tf.distribute.Strategy:
    """The strategy called `name`.

    Args:
        name: one of STRATEGIES.
            auto: a TPU if there is one, else every GPU (mirrored) if there are any, else the default.
            cpu: the CPU only, even when there are GPUs.
            mirrored: MirroredStrategy over `devices` (default: every GPU, else the CPU).
            tpu: TPUStrategy; fails if there is no TPU.
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
            return _tpu_strategy(resolver)
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
            raise RuntimeError("--strategy tpu: no TPU found (no TPU_NAME, COLAB_TPU_ADDR or /dev/accel*)")
        return _tpu_strategy(resolver)
    if "TF_CONFIG" not in os.environ:
        raise RuntimeError("--strategy multi_worker needs TF_CONFIG (the cluster and this worker's index)")
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
