"""The password hasher: Argon2id at one of OWASP's recommended minimum configurations.

Django's Argon2PasswordHasher defaults to 100 MiB and 8 lanes (~0.1 s and 100 MiB per login on a
small server, which caps signups and logins per core and lets a burst of logins exhaust memory).
OWASP's Password Storage Cheat Sheet (Argon2id section) lists five configurations, m=46 MiB/t=1,
19 MiB/t=2, 12 MiB/t=3, 9 MiB/t=4 and 7 MiB/t=5, all with p=1, and says they "provide an equal
level of defense, and the only difference is a trade off between CPU and RAM usage". We take
m=7 MiB, t=5: measured on our 2-core server it is the cheapest of the five in CPU (~25 ms per
hash against ~34 ms for 19 MiB/t=2; see docs/accounts.md) and the smallest in memory per
concurrent login.

The algorithm name stays "argon2", so hashes made with other parameters (Django's defaults, our
earlier m=19 MiB/t=2) still verify, and Django re-hashes them with these at the next successful
login (must_update compares the stored parameters with these).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    time_cost = 5
    memory_cost = 7 * 1024  # KiB
    parallelism = 1
