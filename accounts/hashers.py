"""The password hasher: Argon2id with OWASP's recommended minimum parameters.

Django's Argon2PasswordHasher defaults to 100 MiB and 8 lanes (~0.1 s and 100 MiB per login on a
small server, which caps signups and logins per core and lets a burst of logins exhaust memory).
OWASP's Password Storage Cheat Sheet gives m=19 MiB, t=2, p=1 as an equally strong choice. The
algorithm name stays "argon2", so hashes made with other parameters still verify and Django
re-hashes them with these at the next successful login (must_update).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
