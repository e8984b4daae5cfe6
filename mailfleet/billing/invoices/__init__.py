"""Invoices: one per charge, with its lines, totals and the billing details of the moment."""
