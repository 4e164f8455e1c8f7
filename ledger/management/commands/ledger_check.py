from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum

from ledger.models import Account, Transfer
from ledger.rates import CENT, ZERO
from ledger.selectors import balance_after_mismatches, ledger_mismatches, payment_mismatches


class Command(BaseCommand):
    help = (
        "Recompute every account balance from the transfers, check that all balances sum to zero, "
        "that each transfer connects the accounts its kind allows, that the recorded balances "
        "after each transfer replay and that teaching payments match their transfers. "
        "Exits non-zero on any mismatch."
    )

    def handle(self, *args, **options):
        problems = ledger_mismatches() + balance_after_mismatches() + payment_mismatches()
        for problem in problems:
            self.stderr.write(f"MISMATCH {problem}")
        if problems:
            raise CommandError(f"ledger_check found {len(problems)} mismatch(es).")
        accounts = Account.objects.count()
        transfers = Transfer.objects.count()
        users = Account.objects.filter(kind=Account.Kind.USER).aggregate(total=Sum("balance"))["total"]
        users = (users or ZERO).quantize(CENT)  # SQLite sums decimals as floats
        bank = Account.objects.filter(kind=Account.Kind.BANK).values_list("balance", flat=True).first()
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {accounts} accounts, {transfers} transfers reconcile; "
                f"users hold {users}, the bank holds {bank if bank is not None else '0.00'}."
            )
        )
