"""What the law asks of the personal data held: residents' requests (export, erasure), the
rotation of the encryption keys, and retention."""
