import time

from django.core.management.base import BaseCommand, CommandError

from realtime.background import sweep_once


class Command(BaseCommand):
    help = (
        "Stop runaway teaching timers, expire connections of dead server processes and delete "
        "expired Idempotency-Keys. "
        "Runs once, or every --interval seconds with --loop (for cron or a systemd service)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep sweeping until interrupted")
        parser.add_argument("--interval", type=float, default=None, help="seconds between sweeps")

    def handle(self, *args, loop=False, interval=None, **options):
        from django.conf import settings

        interval = interval if interval is not None else settings.TIMER_SWEEP_INTERVAL
        if interval <= 0:
            raise CommandError("--interval needs a positive number of seconds.")
        while True:
            result = sweep_once()
            self.stdout.write(
                f"stopped {result['timers_stopped']} timer(s); "
                f"{result['users_offline']} user(s) went offline; "
                f"{result['idempotency_keys_purged']} expired idempotency key(s) deleted"
            )
            if not loop:
                return
            time.sleep(interval)
