"""tlskit's fuzz targets (fuzz/targets.py) and seed corpora (fuzz/corpus/<target>/)."""
