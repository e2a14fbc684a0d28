"""Analysis of user images and curves: counting columns."""
