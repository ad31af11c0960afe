"""Maps of a classifier's features: principal components, UMAP, and files for the Embedding Projector (its web
page, or TensorBoard's plugin).

    points, explained = maps.principal_components(features)   # (N, 2), (2,) share of variance
    maps.write_tensorboard_projector(out, features, texts, labels, class_names)   # OUT/logs/projector
"""
from pathlib import Path

import numpy as np

from tfbert import files
from tfbert.keras import tf


def principal_components(features, k=2):
    """(N, H) -> ((N, k) coordinates on the top `k` principal components, (k,) share of variance of each)."""
    centered = features - features.mean(axis=0)
    _, singular, directions = np.linalg.svd(centered, full_matrices=False)
    return centered @ directions[:k].T, singular[:k] ** 2 / np.sum(singular ** 2)


def umap_points(features, seed=0):
    """(N, H) -> (N, 2) UMAP coordinates (McInnes et al. 2018: neighbourhoods kept, distances between far clusters
    not), or None for fewer than 10 texts, too few for its neighbourhood graph."""
    if len(features) < 10:
        return None
    import umap

    return umap.UMAP(n_components=2, n_neighbors=min(15, len(features) - 1), random_state=seed).fit_transform(features)


def write_projector(folder, features, texts, labels, class_names):
    """vectors.tsv and metadata.tsv: load both at https://projector.tensorflow.org (or TensorBoard's projector)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with files.atomic(folder / "vectors.tsv") as tmp:
        np.savetxt(tmp, features, delimiter="\t", fmt="%.5f")
    lines = [f"{class_names[label]}\t{' '.join(text.split())[:200]}\n" for text, label in zip(texts, labels)]
    files.write_text(folder / "metadata.tsv", "class\ttext\n" + "".join(lines))  # a line per text: no tabs or newlines


def write_tensorboard_projector(out, features, texts, labels, class_names) -> Path:
    """The features, their texts and classes as a run of TensorBoard's Embedding Projector, in OUT/logs/projector:
    `tensorboard --logdir runs` shows them (PCA, t-SNE, UMAP) beside the training curves. Returns the folder."""
    from tensorboard.plugins import projector

    folder = Path(out) / "logs" / "projector"
    write_projector(folder, features, texts, labels, class_names)
    writer = tf.summary.create_file_writer(str(folder))  # an event file: TensorBoard lists a folder that has one
    writer.flush()
    writer.close()
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name, embedding.tensor_path, embedding.metadata_path = "features", "vectors.tsv", "metadata.tsv"
    projector.visualize_embeddings(str(folder), config)  # projector_config.pbtxt
    return folder
