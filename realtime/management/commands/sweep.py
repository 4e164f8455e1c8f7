import time

from django.core.management.base import BaseCommand, CommandError

from realtime.background import beat_interval_seconds, sweep_once


class Command(BaseCommand):
    help = (
        "Stop runaway teaching timers, expire connections of dead server processes and delete "
        "expired Idempotency-Keys. "
        "Runs once, or every --interval seconds with --loop (for cron or a systemd service); "
        "the loop expires connections every round and does the rest every TIMER_SWEEP_INTERVAL."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep sweeping until interrupted")
        parser.add_argument("--interval", type=float, default=None, help="seconds between sweeps")

    def handle(self, *args, loop=False, interval=None, **options):
        from django.conf import settings

        # Often enough that a dead process's users go offline within seconds (SPEC 7).
        interval = interval if interval is not None else beat_interval_seconds()
        if interval <= 0:
            raise CommandError("--interval needs a positive number of seconds.")
        timers_due_at = 0.0
        while True:
            timers = time.monotonic() >= timers_due_at
            if timers:
                timers_due_at = time.monotonic() + settings.TIMER_SWEEP_INTERVAL
            result = sweep_once(timers=timers)
            if loop and not any(result.values()):
                time.sleep(interval)
                continue
            self.stdout.write(
                f"stopped {result['timers_stopped']} timer(s); "
                f"{result['users_offline']} user(s) went offline; "
                f"{result['idempotency_keys_purged']} expired idempotency key(s) deleted"
            )
            if not loop:
                return
            time.sleep(interval)
