from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _fund_bank_after_migrate(sender, using="default", **kwargs):
    """A fresh install can grant support at once: the bank exists, funded, after `migrate`."""
    from django.db import connections

    from .models import Account, Transfer
    from .services import bank_reserve_ensure

    tables = connections[using].introspection.table_names()
    if Account._meta.db_table not in tables or Transfer._meta.db_table not in tables:
        return  # the ledger was migrated away (migrate ledger zero)
    if using != "default":
        return  # the services write to the default database only
    bank_reserve_ensure()


class LedgerConfig(AppConfig):
    name = "ledger"

    def ready(self):
        post_migrate.connect(_fund_bank_after_migrate, sender=self, dispatch_uid="ledger.fund_bank")
