from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        from accounts.services import email_mark_verified  # services import this module

        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        user = self.create_user(email, password, **fields)
        # Whoever runs createsuperuser typed the address on the server: no mail to confirm it.
        email_mark_verified(user_id=user.id, email=user.email)
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """A person using VersaTools.

    The UUID primary key can equal the Supabase ``auth.users`` id, so that
    ``auth.uid()`` in RLS policies compares directly with ``user_id`` columns.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    image = models.URLField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log into the operator admin.")
    # The user's id at an outside identity or billing provider (seed 001's
    # clerkId; a payment event names its customer by it). The user may read
    # their own (sql/rls/users_external_id.sql); only the server writes it.
    external_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        db_table = "users"
        constraints = [
            # Sign-in looks emails up case-insensitively; two spellings of one
            # address must not become two accounts.
            models.UniqueConstraint(Lower("email"), name="users_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email
