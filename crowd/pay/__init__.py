"""Rewards, approval, bonuses, the double-entry ledger and payouts."""
