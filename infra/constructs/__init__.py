"""One Construct per capability."""
