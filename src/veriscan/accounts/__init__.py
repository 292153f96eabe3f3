"""Who is calling: users, their roles and sign-in sessions, and reading a token back to
its user. Below every domain (audit included); signing in, out and up is `auth`'s."""
