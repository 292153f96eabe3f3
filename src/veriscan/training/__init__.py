"""Training Veriscan's own detectors: the data manifests, rebuilding a set from them, and
fitting the probes (`veriscan trainset fetch`, `veriscan train`).

Needs the `train` extra (scikit-learn); nothing here runs inside the service.
"""
