"""Password hashing, and nothing else.

New hashes are Argon2id. Bcrypt hashes made by the workshop's passlib still
verify, and are replaced by Argon2 ones at the next successful login.
"""

from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from pamps.config import settings


@cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHash:
    return PasswordHash(
        (
            Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism),
            BcryptHasher(),
        )
    )


def password_hasher() -> PasswordHash:
    """The hasher for the current settings (they are read at call time)."""
    sec = settings.security
    return _hasher(
        int(sec.argon2_time_cost), int(sec.argon2_memory_cost), int(sec.argon2_parallelism)
    )


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """Check a password; the second item is a new hash when it should change.

    A malformed stored hash counts as a wrong password, never an error.
    """
    try:
        return password_hasher().verify_and_update(password, hashed)
    except Exception:  # pwdlib raises UnknownHashError, argon2 InvalidHashError
        return False, None


@cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_cost, parallelism).hash("pamps-dummy-password")


def dummy_verify(password: str) -> None:
    """Spend the time of a real check, so unknown users cost the same as
    wrong passwords and response times do not reveal who has an account."""
    sec = settings.security
    hashed = _dummy_hash(
        int(sec.argon2_time_cost), int(sec.argon2_memory_cost), int(sec.argon2_parallelism)
    )
    verify_password(password, hashed)
