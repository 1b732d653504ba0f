"""Tables. Manifests keep their exact bytes; a blob is visible in a repository only through a link row."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from cargobay.metadata.search_index import install_search_index

metadata = MetaData()

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", Double, nullable=False),
    # Set once, when the first push creates the repository (configurable default), then by owners.
    Column("private", Boolean, nullable=False, server_default=false()),
    # The catalogue (issue 5): what search shows and ranks on.
    Column("description", String(100), nullable=False, server_default=""),  # short, for search
    Column("full_description", Text, nullable=False, server_default=""),  # Markdown README
    # Added to in batches by each worker's PullCounter (registry/pulls.py), about once a second.
    Column("pull_count", BigInteger, nullable=False, server_default="0"),
    # Kept equal to the repository's rows in `stars` by triggers (metadata/search_index.py).
    Column("star_count", Integer, nullable=False, server_default="0"),
    Column("last_pushed_at", Double, nullable=True),  # every manifest PUT; None: never pushed
    # What search looks in, lower-cased once on write rather than on every row it reads.
    Column("search_text", Text, Computed("lower(name || ' ' || description)", persisted=True)),
)
# Search walks this in rank order when a query matches too many repositories to sort them all.
Index(
    "ix_repositories_popularity",
    repositories.c.star_count.desc(),
    repositories.c.pull_count.desc(),
    repositories.c.name,
)
# The other orders search and the home page list in: most pulled; most recently pushed.
Index(
    "ix_repositories_pulls",
    repositories.c.pull_count.desc(),
    repositories.c.star_count.desc(),
    repositories.c.name,
)
Index("ix_repositories_updated", repositories.c.last_pushed_at.desc(), repositories.c.name)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Double, nullable=False),
)

repository_blobs = Table(
    "repository_blobs",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", String(140), ForeignKey("blobs.digest"), primary_key=True),
    Column("created_at", Double, nullable=False),
)
Index("ix_repository_blobs_digest", repository_blobs.c.digest)

manifests = Table(
    "manifests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(140), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("artifact_type", String(255), nullable=True),
    Column("subject_digest", String(140), nullable=True),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("repository_id", "digest", name="uq_manifests_repository_digest"),
)
Index("ix_manifests_subject", manifests.c.repository_id, manifests.c.subject_digest)

# What each manifest references: blobs (config, layers) and child manifests (index entries).
manifest_references = Table(
    "manifest_references",
    metadata,
    Column("manifest_id", Integer, ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", String(140), primary_key=True),
    Column("kind", String(8), nullable=False),  # "blob" or "manifest"
)
Index("ix_manifest_references_digest", manifest_references.c.digest)

tags = Table(
    "tags",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("manifest_id", Integer, ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False),
    Column("updated_at", Double, nullable=False),
)
Index("ix_tags_manifest", tags.c.manifest_id)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("algorithm", String(16), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# Users and organisations share one namespace of names, as on Docker Hub.
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),  # "user" or "org"
    Column("email", String(254), nullable=True, unique=True),
    Column("password_hash", String(255), nullable=True),
    Column("is_admin", Boolean, nullable=False, server_default=false()),
    Column("created_at", Double, nullable=False),
    # Refresh tokens issued before this moment (a password change) are no longer honoured.
    Column("credentials_changed_at", Double, nullable=False, server_default=text("0")),
)

# Names of deleted accounts are never given out again: whoever pulls `olduser/app` must not get
# a stranger's images (Docker Hub's rule).
retired_names = Table(
    "retired_names",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("retired_at", Double, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("org_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), nullable=False),  # "owner" or "member"
)
Index("ix_memberships_user", memberships.c.user_id)

# Personal access tokens: only a hash of the secret is kept.
access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("scope", String(16), nullable=False),  # "read", "read-write" or "delete"
    Column("created_at", Double, nullable=False),
    Column("last_used_at", Double, nullable=True),
    Column("revoked_at", Double, nullable=True),
)
Index("ix_access_tokens_account", access_tokens.c.account_id)

# Web site log-ins: the cookie holds a random id, the database only its hash. A password change
# or an account's deletion ends them all.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
)
Index("ix_web_sessions_account", web_sessions.c.account_id)

# Failed logins per key ("user:NAME" or "addr:IP") in the current window, for rate limiting.
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("window_start", Double, nullable=False),
    Column("count", Integer, nullable=False),
)

# Who starred which repository (both sides cascade: a deleted account or repository takes its stars).
stars = Table(
    "stars",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("starred_at", Double, nullable=False),
)
Index("ix_stars_repository", stars.c.repository_id)

# Search indexes and star-count triggers, per dialect (the catalogue's one dialect-specific module).
install_search_index(repositories, stars)
