"""The blind index that finds cases by their sensitive fields without decrypting them."""
