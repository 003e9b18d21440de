import sys
from pathlib import Path

# The generated tests import the generated module by name (see SPEC/payments/tests).
sys.path.insert(0, str(Path(__file__).parent / "src"))
