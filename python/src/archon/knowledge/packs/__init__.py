"""Knowledge packs: portable, versioned archives of indexed sources (export, verify, import)."""
