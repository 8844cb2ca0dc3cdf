import pathlib

VECTORS = pathlib.Path(__file__).parent / "vectors"
