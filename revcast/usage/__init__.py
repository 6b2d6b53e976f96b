"""The usage domain core: features, the EDA profile, the price book, revenue and forecast monitoring."""
