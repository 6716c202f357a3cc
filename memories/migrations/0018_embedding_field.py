"""The embedding columns' field becomes ``memories.vectors.EmbeddingField``: pgvector's field, but a
vector on its way in reaches the driver as it is (an add's vector may still be being made when its
INSERT is built). The same column type: no SQL."""

import memories.vectors
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('memories', '0017_memory_embedding_hnsw_canonical'),
    ]

    operations = [
        migrations.AlterField(
            model_name='memory',
            name='embedding',
            field=memories.vectors.EmbeddingField(blank=True, dimensions=384, null=True),
        ),
        migrations.AlterField(
            model_name='memorysource',
            name='embedding',
            field=memories.vectors.EmbeddingField(blank=True, dimensions=384, null=True),
        ),
    ]
