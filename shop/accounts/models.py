from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.models import Device, ThrottlingMixin


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        # Logins are case-insensitive: "Ann@Example.com" and "ann@example.com" are one account.
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A shopper or a member of staff; the e-mail address is the login name."""

    email = models.EmailField("e-mail address", unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Staff can sign in to the admin (clerks, compliance officers, managers)."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    marketing_opt_in_at = models.DateTimeField(
        null=True, blank=True, help_text="When the person ticked the marketing e-mail box at sign-up."
    )
    inactivity_warned_at = models.DateTimeField(
        null=True, blank=True, help_text="When the account was warned that it will be deleted for inactivity."
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self):
        return self.email

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self):
        return self.first_name or self.email.split("@")[0]

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


def hash_backup_code(code: str) -> str:
    """Keyed SHA-256 of a normalised backup code: the database never holds a usable code.

    The codes are random (50 bits), so a keyed fast hash is enough; a stolen table without the
    secret key cannot be checked against guesses offline.
    """
    normalised = "".join(code.split()).replace("-", "").lower()
    return salted_hmac("shop.accounts.backup-code", normalised, algorithm="sha256").hexdigest()


class BackupCodeDevice(ThrottlingMixin, Device):
    """Single-use backup codes for a person who lost their authenticator, stored hashed.

    (django-otp's own static device keeps the codes in plain text.) Wrong codes back off
    exponentially like TOTP, and every code works once.
    """

    def get_throttle_factor(self):
        return 1

    def verify_token(self, token):
        allowed, _ = self.verify_is_allowed()
        if not allowed or not token:
            return False
        code = self.codes.filter(digest=hash_backup_code(str(token)), used_at=None).first()
        if code is None:
            self.throttle_increment()
            return False
        code.used_at = timezone.now()
        code.save(update_fields=["used_at"])
        self.throttle_reset()
        return True

    @property
    def remaining(self) -> int:
        return self.codes.filter(used_at=None).count()


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "digest"], name="backupcode_unique_per_device")]

    def __str__(self):
        return f"backup code {self.pk} ({'used' if self.used_at else 'unused'})"


class UserSession(models.Model):
    """Which sessions belong to whom, so that a person can see and end theirs (and a password
    or MFA change can end all the others). The session itself lives in django.contrib.sessions."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=300, blank=True)
    address_hash = models.CharField(max_length=64, blank=True, help_text="Keyed hash of the client address.")

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self):
        return f"session of user {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"
