"""``manage.py seed_demo``: create the demo (once) and print its credentials (every time)."""

from django.core.management.base import BaseCommand, CommandError

from workflows.demo.seed import demo_seed


class Command(BaseCommand):
    help = (
        "Create demo users for every role and an active bbox project of generated shape "
        "images, then print the site URL and the demo passwords. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--images", type=int, default=24, help="images in a new demo")
        parser.add_argument("--seed", type=int, default=7, help="random seed of the images")

    def handle(self, *args, images: int, seed: int, **options):
        try:
            demo_seed(images=images, seed=seed, stdout=self.stdout)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
