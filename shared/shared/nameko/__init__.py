"""nameko adapters: the only part of `shared` that imports nameko."""
