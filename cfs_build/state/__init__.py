"""What a build writes and keeps: the manifest, artifacts, the run log, the build lock."""
