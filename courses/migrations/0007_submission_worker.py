from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('courses', '0006_submission_outbox'),
    ]

    operations = [
        migrations.AddField(
            model_name='submission',
            name='worker',
            field=models.CharField(blank=True, max_length=200, verbose_name='grading worker'),
        ),
    ]
