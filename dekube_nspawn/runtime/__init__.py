"""Code that also runs on the target host (embedded in bootstrap.sh): stdlib only, self-contained."""
