"""Operations: failure routing, quality history, status, and the platform's sensors."""
