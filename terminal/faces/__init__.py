"""Face check-in (only with a parent's consent): detection, quality checks, encodings and
matching. No image is written anywhere; encodings of people not enrolled are never kept."""
