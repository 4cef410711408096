"""``tierii check --auth``: SPF, DKIM and DMARC as receivers see them, judged against the
Gmail/Yahoo bulk-sender rules. dnspython and dkimpy are imported only when it runs."""
