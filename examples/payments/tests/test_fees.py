import pytest

from fees import calculate_fee


def test_standard_10000_cents():
    assert calculate_fee(10000) == 200


def test_standard_10050_cents():
    assert calculate_fee(10050) == 201


def test_standard_149_cents_rounds_down():
    assert calculate_fee(149) == 2


def test_premium_10000_cents():
    assert calculate_fee(10000, is_premium=True) == 100


def test_premium_149_cents_is_half_of_standard():
    assert calculate_fee(149, is_premium=True) == 1


def test_standard_1_cent():
    assert calculate_fee(1) == 0


@pytest.mark.parametrize("amount", [0, -500])
def test_non_positive_amount_is_rejected(amount):
    with pytest.raises(ValueError):
        calculate_fee(amount)


@pytest.mark.parametrize("amount", [12.5, True])
def test_non_int_amount_is_rejected(amount):
    with pytest.raises(ValueError):
        calculate_fee(amount)
