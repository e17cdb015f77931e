"""Load demo data for the embedded mode: categories, 36 products, two stores, and demo people.

Idempotent: running it again updates the same rows (matched by slug or e-mail) and resets the
demo stock levels. Refuses to run in production, where no account may have a published password.
"""

from base64 import b32encode

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.accounts import roles
from shop.accounts.models import User
from shop.catalog.models import Category, Product, Stock, Store

CATALOG = {
    "Kitchen": [
        ("Enamel coffee pot", 3490, "A 1.2-litre enamel pot for the stove or the campfire."),
        ("Stoneware mug", 1290, "Hand-glazed, 350 ml, dishwasher safe."),
        ("Chef's knife 20 cm", 6900, "Forged stainless steel with a full tang and a walnut handle."),
        ("Oak cutting board", 3900, "End-grain oak, oiled, 40 × 28 cm."),
        ("Cast-iron pan 26 cm", 5490, "Pre-seasoned; works on induction."),
        ("Linen tea towels (2)", 1690, "Stonewashed European linen."),
    ],
    "Home": [
        ("Wool throw", 8900, "Soft merino wool throw, 130 × 180 cm."),
        ("Ceramic vase", 2990, "Matte white stoneware, 24 cm high."),
        ("Beeswax candles (4)", 1490, "Pure beeswax, burns for about 8 hours each."),
        ("Cotton cushion cover", 1990, "Organic cotton, 50 × 50 cm, hidden zip."),
        ("Table lamp", 7900, "Brass base with a linen shade; E27 bulb."),
        ("Doormat", 2490, "Coir and recycled rubber, 60 × 40 cm."),
    ],
    "Garden": [
        ("Watering can 5 l", 3290, "Galvanised steel with a brass rose."),
        ("Pruning shears", 2790, "Bypass blades for branches up to 2 cm."),
        ("Herb seed set", 990, "Basil, parsley, chives and thyme, organic seeds."),
        ("Terracotta pot 20 cm", 1290, "Frost-resistant, with a drainage hole."),
        ("Garden gloves", 1490, "Goatskin leather, sizes S to XL."),
        ("Bird feeder", 2190, "Cedar wood, hangs or stands."),
    ],
    "Stationery": [
        ("Dotted notebook A5", 1490, "192 pages of 100 g paper, lay-flat binding."),
        ("Fountain pen", 3490, "Steel nib, converter included."),
        ("Pencil set (12)", 890, "Cedar pencils, HB to 6B."),
        ("Desk organiser", 2490, "Birch plywood, three compartments."),
        ("Weekly planner 2027", 1890, "Undated weeks, linen cover."),
        ("Washi tape set", 790, "Six rolls in muted colours."),
    ],
    "Outdoor": [
        ("Insulated bottle 750 ml", 2990, "Keeps drinks cold for 24 hours or hot for 12."),
        ("Camping lantern", 3990, "Rechargeable LED, 300 lumen."),
        ("Picnic blanket", 4490, "Water-resistant backing, 150 × 200 cm."),
        ("Daypack 20 l", 6490, "Recycled nylon, padded laptop sleeve."),
        ("Enamel camping plates (2)", 1890, "Speckled blue enamel."),
        ("Folding stool", 2790, "Beech wood and canvas, carries 100 kg."),
    ],
    "Care": [
        ("Olive oil soap", 590, "Cold-process soap from Crete."),
        ("Hand cream", 1290, "Shea butter and calendula, 75 ml."),
        ("Bamboo toothbrush (4)", 990, "Medium bristles, compostable handle."),
        ("Wooden hair brush", 1990, "Beech wood with natural bristles."),
        ("Bath salts", 1490, "Dead Sea salt with lavender, 500 g."),
        ("Cotton bath towel", 2990, "Organic terry cotton, 70 × 140 cm."),
    ],
}

STORES = [
    {
        "slug": "berlin-mitte",
        "name": "Berlin Mitte",
        "street": "Rosenthaler Str. 40",
        "postal_code": "10178",
        "city": "Berlin",
        "opening_hours": "Mon–Fri 09:00–20:00\nSat 10:00–18:00\nSun closed",
        "pickup_enabled": True,
        "ships_orders": True,
    },
    {
        "slug": "hamburg-altona",
        "name": "Hamburg Altona",
        "street": "Ottenser Hauptstr. 12",
        "postal_code": "22765",
        "city": "Hamburg",
        "opening_hours": "Mon–Sat 10:00–19:00\nSun closed",
        "pickup_enabled": True,
        "ships_orders": False,
    },
]

# Demo people: printed by `make run`. Passwords pass the validators but are public: embedded mode only.
PEOPLE = [
    {"email": "shopper@example.com", "first_name": "Sam", "password": "demo-shopper-2026", "role": None},
    {"email": "clerk@example.com", "first_name": "Chris", "password": "demo-clerk-2026", "role": roles.CLERK},
    {
        "email": "warehouse@example.com",
        "first_name": "Wanda",
        "password": "demo-warehouse-2026",
        "role": roles.WAREHOUSE,
    },
    {
        "email": "compliance@example.com",
        "first_name": "Kim",
        "password": "demo-compliance-2026",
        "role": roles.COMPLIANCE,
    },
    {"email": "manager@example.com", "first_name": "Mo", "password": "demo-manager-2026", "role": roles.MANAGER},
    {"email": "fraud@example.com", "first_name": "Fran", "password": "demo-fraud-2026", "role": roles.FRAUD},
]


def _stock_level(product_index: int, store_index: int) -> int:
    """Different, repeatable stock per store, with some products low or missing in one store."""
    if store_index == 1 and product_index % 5 == 0:
        return 0
    return (product_index * 7 + store_index * 3) % 12 + (1 if store_index == 0 else 0)


class Command(BaseCommand):
    help = "Load demo categories, products, stores, stock and demo accounts (embedded mode only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--activity", action="store_true", help="also add a few weeks of activity for the security dashboard"
        )

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates accounts with published passwords; it never runs in production.")
        with transaction.atomic():
            stores = [Store.objects.update_or_create(slug=s["slug"], defaults=s)[0] for s in STORES]
            index = 0
            for position, (category_name, products) in enumerate(CATALOG.items()):
                category, _ = Category.objects.update_or_create(
                    slug=slugify(category_name), defaults={"name": category_name, "position": position}
                )
                for name, price_minor, description in products:
                    product, _ = Product.objects.update_or_create(
                        slug=slugify(name),
                        defaults={
                            "name": name,
                            "category": category,
                            "price_minor": price_minor,
                            "currency": settings.SHOP_CURRENCY,
                            "description": description,
                            "is_active": True,
                        },
                    )
                    for store_index, store in enumerate(stores):
                        Stock.objects.update_or_create(
                            store=store, product=product, defaults={"quantity": _stock_level(index, store_index)}
                        )
                    index += 1
            for person in PEOPLE:
                user = self._person(person)
                if person["role"] in (roles.CLERK, roles.WAREHOUSE):
                    stores[0].staff.add(user)  # Berlin Mitte: its pickup counter and its warehouse
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready: {index} products in {len(CATALOG)} categories, {len(stores)} stores.")
        )
        self.stdout.write("Demo accounts (embedded mode only):")
        for person in PEOPLE:
            role = person["role"] or "Shopper"
            self.stdout.write(f"  {role:<20} {person['email']:<26} password: {person['password']}")
        self.stdout.write("Staff sign in with a second factor. Add these to an authenticator app (key or URI):")
        for person in PEOPLE:
            device = TOTPDevice.objects.filter(user__email=person["email"], confirmed=True).first()
            if device is not None:
                key = b32encode(device.bin_key).decode().rstrip("=")
                self.stdout.write(f"  {person['email']:<26} key: {key}")
                self.stdout.write(f"  {'':<26} {device.config_url}")
        if options.get("activity"):
            from django.core.management import call_command

            call_command("seed_activity", stdout=self.stdout)

    def _person(self, person) -> User:
        user = User.objects.filter(email=person["email"]).first() or User(email=person["email"])
        user.first_name = person["first_name"]
        user.email_verified_at = user.email_verified_at or timezone.now()
        user.is_staff = person["role"] is not None
        user.set_password(person["password"])
        user.save()
        if person["role"]:
            user.groups.set([Group.objects.get(name=person["role"])])
            # Staff never reach the admin without a second factor: enrol the demo staff once.
            if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)
        return user
