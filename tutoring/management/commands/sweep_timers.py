import time

from django.core.management.base import BaseCommand, CommandError

from tutoring.services import timers_sweep


class Command(BaseCommand):
    help = "Stop runaway teaching timers (teacher gone past the grace period, or past the cap)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", type=float, metavar="SECONDS", help="keep sweeping every SECONDS until interrupted"
        )

    def handle(self, *args, loop=None, **options):
        if loop is not None and loop <= 0:
            raise CommandError("--loop needs a positive number of seconds.")
        while True:
            stopped = timers_sweep()
            if stopped or loop is None:
                self.stdout.write(f"Stopped {len(stopped)} timer(s).")
            if loop is None:
                return
            time.sleep(loop)
