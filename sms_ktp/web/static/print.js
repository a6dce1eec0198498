// A button that prints the page (the receipt of a registration): marked data-print.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
