"""The studio's pages, one module per page; each exports ``ROUTES``."""
