"""Handing out work: assignments (leases), redundancy, gold injection and blocks."""
