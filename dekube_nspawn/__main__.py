from dekube_nspawn.cli import run

run()
