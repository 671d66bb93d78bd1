"""The pages app.py navigates, each a Streamlit script."""
