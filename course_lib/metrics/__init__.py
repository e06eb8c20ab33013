"""Evaluation metrics of the course."""
