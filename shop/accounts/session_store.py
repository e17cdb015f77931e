"""The session engine: Django's cached_db sessions that keep the "active sessions" list in step.

A session key rotates at every privilege change (step-up, turning on two-step sign-in, a
password change through `update_session_auth_hash`). UserSession remembers a session by its
key, so a rotation that left the row behind would break two promises at once: the person's own
session would vanish from their list, and "End session" on the stale row would delete a key that
no longer exists while the real session lived on. Rotating here, where every caller passes,
moves the row along with the key.
"""

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore


class SessionStore(CachedDbSessionStore):
    def cycle_key(self):
        old_key = self.session_key
        super().cycle_key()
        if old_key and old_key != self.session_key:
            from .models import UserSession

            UserSession.objects.filter(session_key=old_key).update(session_key=self.session_key)
