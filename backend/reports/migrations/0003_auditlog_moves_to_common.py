# The audit log moves to the common app; its table (reports_auditlog) stays where it is.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_audit_data_rights"),
        ("common", "0001_auditlog"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditLog")],
            database_operations=[],
        )
    ]
