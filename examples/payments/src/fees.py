def calculate_fee(amount: int, is_premium: bool = False) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"amount must be an int number of cents, got {amount!r}")
    if amount <= 0:
        raise ValueError(f"amount must be positive, got {amount}")
    standard = amount * 2 // 100
    return standard // 2 if is_premium else standard
