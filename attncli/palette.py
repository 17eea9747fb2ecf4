"""The colours of senses, the same in the terminal (render.py) and on the pages (html.py);
distinct in light and dark themes. Below both, so that neither imports the other's callers."""

# One colour per sense (cycled).
SENSE_COLOURS = ["#4c9be8", "#f08c00", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d"]


def sense_colour(i: int) -> str:
    """The colour of sense i (0-based)."""
    return SENSE_COLOURS[i % len(SENSE_COLOURS)]
