"""Media analyzers: bytes of an image, video or audio file in, evidence out.

They know nothing of HTTP or the database. Each is one module behind `base.Analyzer`;
`fusion` turns their findings into the scores, verdict and explanation of a media scan.
"""
