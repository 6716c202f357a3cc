import numpy as np
import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from memories import embedding
from memories.checks import embedding_model_present


def test_embeddings_are_384_dimensional_unit_vectors():
    vectors = embedding.embed_texts(["User loves green tea", "User has a cat"])
    assert len(vectors) == 2
    for vector in vectors:
        assert np.asarray(vector).shape == (384,)
        assert abs(np.linalg.norm(vector) - 1.0) < 1e-4


def test_a_batch_gives_the_same_vectors_as_single_calls():
    texts = ["User plays the violin", "User's favourite city is Kyoto", "User runs every morning"]
    batch = np.array(embedding.embed_texts(texts))
    singles = np.array([embedding.embed_query(text) for text in texts])
    assert np.allclose(batch, singles, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones():
    tea, green_tea, car = np.array(
        embedding.embed_texts(["User drinks tea", "User likes green tea", "User repairs cars"])
    )
    assert tea @ green_tea > tea @ car + 0.2


def test_the_model_is_loaded_once_per_process():
    assert embedding.get_embedder() is embedding.get_embedder()


def test_missing_model_files_fail_loudly(tmp_path, settings):
    (tmp_path / "config.json").write_text("{}")
    settings.EMBEDDING_MODEL_DIR = str(tmp_path)
    with pytest.raises(ImproperlyConfigured, match="model.safetensors"):
        embedding.LocalSentenceTransformer(tmp_path, batch_size=8)
    errors = embedding_model_present(None)
    assert [error.id for error in errors] == ["memories.E001"]
    assert errors[0].level == checks.ERROR and "tokenizer.json" in errors[0].msg


def test_the_installed_model_passes_the_start_up_check():
    assert embedding_model_present(None) == []


def test_bf16_is_chosen_only_on_cpus_that_have_it():
    assert embedding.cpu_has_native_bf16("flags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n")
    assert embedding.cpu_has_native_bf16("flags : fpu amx_bf16 amx_tile\n")
    assert not embedding.cpu_has_native_bf16("flags\t\t: fpu sse avx2 avx512f\n")
    assert embedding.resolved_precision("fp32") == "fp32"
    assert embedding.resolved_precision("bf16") == "bf16"
    assert embedding.resolved_precision("auto") == ("bf16" if embedding.cpu_has_native_bf16() else "fp32")


def test_bf16_vectors_agree_with_float32():
    texts = ["User loves green tea", "User drives an old blue pickup truck", "User is allergic to peanuts"]
    fp32 = embedding.LocalSentenceTransformer(embedding.model_dir(), batch_size=8, precision="fp32")
    bf16 = embedding.LocalSentenceTransformer(embedding.model_dir(), batch_size=8, precision="bf16")
    a, b = np.array(fp32.embed(texts)), np.array(bf16.embed(texts))
    assert a.dtype == b.dtype == np.float32
    assert ((a * b).sum(axis=1) > 0.999).all()
