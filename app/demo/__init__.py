"""`byline demo`: a deterministic synthetic corpus, written in bulk through the service's row builders."""
